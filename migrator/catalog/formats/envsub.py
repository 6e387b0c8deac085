"""goose's ``ENVSUB ON``: environment variables in SQL, expanded as goose expands them.

goose expands with its interpolation library (POSIX parameter expansion, a subset):

- ``$NAME`` and ``${NAME}``: the variable's value, empty when it is unset;
- ``${NAME:-word}``: ``word`` when the variable is unset or empty;
- ``${NAME-word}``: ``word`` only when it is unset;
- ``${NAME:offset}`` and ``${NAME:offset:length}``: part of the value (a negative offset,
  written after a space, counts from the end);
- ``${NAME?message}`` and ``${NAME:?message}``: an error when it is unset or empty.

``word`` may itself hold expansions (``${A:-${B:-x}}``). A name starts with a letter. What
is not one of these stays as written: ``$$`` (a PostgreSQL dollar quote; goose keeps it),
``$1`` (a function's parameter), ``$(``, a ``$`` at the end of a line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


class RequiredVariable(ValueError):
    """``${NAME:?message}`` of a variable that is unset or empty."""


def expand(line: str, env: Mapping[str, str] | None = None) -> str:
    """``line`` with its expansions replaced (``env``: the process environment)."""
    text, _ = _Scanner(line, os.environ if env is None else env).expression(stop="")
    return text


class _Scanner:
    def __init__(self, text: str, env: Mapping[str, str]):
        self.text = text
        self.env = env
        self.pos = 0

    def expression(self, stop: str) -> tuple[str, bool]:
        """Text up to ``stop`` (or the end): the expansion and whether ``stop`` was met."""
        out: list[str] = []
        text, env = self.text, self.env
        while self.pos < len(text):
            char = text[self.pos]
            if stop and char == stop:
                return "".join(out), True
            if char != "$" or self.pos + 1 >= len(text):
                out.append(char)
                self.pos += 1
                continue
            following = text[self.pos + 1]
            if following == "$":  # a dollar quote: goose keeps it
                out.append("$$")
                self.pos += 2
            elif following == "{":
                out.append(self._braced())
            elif following.isalpha():
                name = self._name(self.pos + 1)
                out.append(env.get(name, ""))
            else:
                out.append(char)
                self.pos += 1
        return "".join(out), False

    def _name(self, start: int) -> str:
        end = start
        while end < len(self.text) and (self.text[end].isalnum() or self.text[end] == "_"):
            end += 1
        self.pos = end
        return self.text[start:end]

    def _braced(self) -> str:
        """``${...}`` at ``pos``; written as it is when it is not an expansion."""
        begin = self.pos
        if not self.text[begin + 2 : begin + 3].isalpha():
            self.pos = begin + 2
            return "${"
        name = self._name(begin + 2)
        value = self.env.get(name)
        rest = self.text[self.pos : self.pos + 2]
        if rest[:1] == "}":
            self.pos += 1
            return value or ""
        if rest == ":-" or rest[:1] in ("-", "?") or rest == ":?":
            self.pos += 1 if rest[:1] in ("-", "?") else 2
            word, closed = self.expression(stop="}")
            if not closed:
                return self._as_written(begin)
            self.pos += 1
            if rest[:1] == "?" or rest == ":?":
                if not value:
                    raise RequiredVariable(f"${{{name}}}: {word or 'not set'}")
                return value
            if rest == ":-":
                return value if value else word
            return value if value is not None else word
        if rest[:1] == ":":
            return self._substring(begin, value or "")
        return self._as_written(begin)

    def _substring(self, begin: int, value: str) -> str:
        end = self.text.find("}", self.pos)
        if end < 0:
            return self._as_written(begin)
        numbers = self.text[self.pos + 1 : end].split(":")
        try:
            offset = int(numbers[0].strip())
            length = int(numbers[1].strip()) if len(numbers) > 1 else None
        except ValueError:
            return self._as_written(begin)
        if len(numbers) > 2:
            return self._as_written(begin)
        self.pos = end + 1
        if offset < 0:
            offset += len(value)
        if offset < 0 or offset > len(value):
            return ""
        return value[offset:] if length is None else value[offset : offset + max(length, 0)]

    def _as_written(self, begin: int) -> str:
        """Not an expansion after all: the ``${`` stays, scanning goes on after it."""
        self.pos = begin + 2
        return "${"
