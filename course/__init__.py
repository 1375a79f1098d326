"""The course toolkit: notebook set-up, the database ladder, and the build/check pipeline."""


def setup(**options) -> None:
    """The first code cell of every notebook. See course.notebook.setup."""
    from course.notebook import setup

    setup(**options)
