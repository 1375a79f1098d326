"""LoopBook: which event loop ran which test or fixture (module 01)."""

import asyncio


class LoopBook:
    """Records which event loop ran what, and names the loops "loop 1", "loop 2", ... in the
    order they are first seen (a loop's repr holds a memory address that changes every run)."""

    def __init__(self):
        self.loops = []  # strong references, so that no id() is ever reused by a later loop
        self.entries = []

    def note(self, what: str) -> None:
        loop = asyncio.get_running_loop()
        if not any(seen is loop for seen in self.loops):
            self.loops.append(loop)
        number = next(n for n, seen in enumerate(self.loops, 1) if seen is loop)
        self.entries.append((what, number))

    def show(self) -> None:
        for what, number in self.entries:
            print(f"{what:<44} loop {number}")
        closed = all(loop.is_closed() for loop in self.loops)
        print(f"{len(self.loops)} loop(s), all closed after the run: {closed}")
