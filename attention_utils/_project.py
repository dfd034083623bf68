"""Where the series lives: the single source of the Colab links and the Colab install command.

Every notebook's badge and setup cell are generated from these values, and
``tests/test_notebook_shape.py`` holds every notebook to them. To move the repository, change
``REPO`` here; the notebook-shape test then names every notebook to update.
"""

REPO = "attention-step-by-step/attention-step-by-step"
BRANCH = "main"


def colab_url(notebook_path: str) -> str:
    """The 'Open in Colab' address of a notebook, given its path from the repository root."""
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{notebook_path}"


def colab_badge(notebook_path: str) -> str:
    """The Markdown badge that opens ``notebook_path`` in Colab."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook_path)})"


#: The command the setup cell runs on Colab (and only there).
COLAB_INSTALL = f'%pip install -q "attention-utils @ git+https://github.com/{REPO}@{BRANCH}"'
