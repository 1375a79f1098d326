"""Sphinx's settings for the course's website (built by `course site`, see course/site.py)."""

from docutils import nodes

from course import site

project = "Testing async FastAPI + SQLAlchemy 2 apps with pytest-asyncio"
author = "the course's authors"
copyright = "the course's authors"
extensions = ["myst_nb"]
nb_execution_mode = "off"  # the stored outputs, as nbval verified them
myst_heading_anchors = 3  # Markdown links to headings; every heading also gets a ¶ link
html_theme = "sphinx_book_theme"
html_title = "Testing async FastAPI apps"
html_static_path = [str(site.SITE_CONFIG / "_static")]
html_css_files = ["course.css"]
# Without an icon a browser asks for /favicon.ico, the root of the host, where no site of a
# GitHub project has one: a 404 in the console of every page.
html_favicon = str(site.SITE_CONFIG / "_static" / "favicon.svg")
html_context = {"default_mode": "light"}
html_theme_options = {
    "repository_url": site.repository_url(),
    "repository_branch": site.BRANCH,
    "path_to_docs": "",
    "use_download_button": True,
    "use_repository_button": True,
    "launch_buttons": {"binderhub_url": site.BINDER, "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
}
html_show_sourcelink = False
html_use_index = False  # no index entries: its page would be empty
html_copy_source = True  # the download button serves each page's notebook from _sources/


PUBLISHED = site.published()


def module_banner(app, doctree, docname):
    """Above each lesson and exercise page: its module's place in the course, its time, and
    the previous and next modules."""
    kind, _, stem = docname.partition("/")
    rows = PUBLISHED
    index = next((i for i, m in enumerate(rows) if m.stem == stem), None)
    if index is None:
        return
    module = rows[index]

    def title(row):
        return f"{row.number} {row.topic.split(':')[0]}"

    def link(text, target):
        uri = app.builder.get_relative_uri(docname, target)
        return nodes.reference("", text, refuri=uri, internal=True)

    banner = nodes.paragraph(classes=["course-module"])
    if kind == "exercises":
        banner += nodes.Text(
            f"Exercises of module {module.number} ({index + 1} of {len(rows)}) · about "
            f"{module.exercise_minutes} min · "
        )
        banner += link("the lesson", f"notebooks/{stem}")
        banner += nodes.Text(" · run this notebook (rocket button above) to check your answers")
    else:
        banner += nodes.Text(
            f"Module {module.number} ({index + 1} of {len(rows)}) · lesson about "
            f"{module.lesson_minutes} min, "
        )
        banner += link(f"exercises {module.exercise_minutes} min", f"exercises/{stem}")
    if index > 0:
        banner += nodes.Text(" · previous: ")
        banner += link(title(rows[index - 1]), f"{kind}/{rows[index - 1].stem}")
    if index + 1 < len(rows):
        banner += nodes.Text(" · next: ")
        banner += link(title(rows[index + 1]), f"{kind}/{rows[index + 1].stem}")
    section = doctree.next_node(nodes.section)
    section.insert(1, banner)  # after the page's title


def setup(app):
    app.connect("doctree-resolved", module_banner)
