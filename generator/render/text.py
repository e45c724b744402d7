"""Python and Markdown text as the generated files hold it: calls laid out as `ruff format`
lays them out, and free text escaped for docstrings and Markdown."""

from __future__ import annotations

import re
import unicodedata

LINE_LENGTH = 88


def call(head: str, *args: object, indent: int = 8, tail: str = "", brackets: str = "()") -> str:
    """`head(args)tail` laid out as `ruff format` would: one line, hugged, or one per line."""
    pad = " " * indent
    opening, closing = brackets
    items = [str(a) for a in args]
    one_line = f"{pad}{head}{opening}{', '.join(items)}{closing}{tail}"
    if len(one_line) <= LINE_LENGTH:
        return one_line
    hugged = f"{pad}    {', '.join(items)}"
    if len(hugged) <= LINE_LENGTH:
        return f"{pad}{head}{opening}\n{hugged}\n{pad}{closing}{tail}"
    inner = "".join(f"{pad}    {item},\n" for item in items)
    return f"{pad}{head}{opening}\n{inner}{pad}{closing}{tail}"


def call_text(head: str, *args: object) -> str:
    return f"{head}({', '.join(map(str, args))})"


def repeated(name: str, item: str | tuple[str, list[object]], loop: str) -> str:
    """`self.name = nn.ModuleList(item loop)` as ruff formats it; an item given as a call's
    head and arguments is split as a call where it does not fit on a line."""
    text = call_text(item[0], *item[1]) if isinstance(item, tuple) else item
    head = f"        self.{name} = nn.ModuleList("
    if len(f"{head}{text} {loop})") <= LINE_LENGTH:
        return f"{head}{text} {loop})"
    if len(f"            {text} {loop}") <= LINE_LENGTH:
        return f"{head}\n            {text} {loop}\n        )"
    if isinstance(item, tuple) and len(f"            {text}") > LINE_LENGTH:
        text = call(item[0], *item[1], indent=12).lstrip()
    return f"{head}\n            {text}\n            {loop}\n        )"


def attribute(name: str) -> str:
    """A module name as the attribute access that reaches it: conv1.0 is conv1[0]."""
    return re.sub(r"\.(\d+)", r"[\1]", name)


def docstring_text(text: str) -> str:
    """Escape `text` so that, between triple double quotes, Python reads back exactly it.

    Backslashes and control characters become escapes, and a quote is escaped wherever
    it could close the string or sit next to the closing quotes.
    """
    out: list[str] = []
    for index, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            nearby = text[index + 1 : index + 2] in ('"', "") or index == 0
            out.append('\\"' if nearby else '"')
        elif char == "\n":
            out.append(char)
        elif char == "\t":
            out.append("\\t")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def markdown_text(text: str) -> str:
    """Free text for a Markdown page: no HTML, no line that could start a heading or fence."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(escaped.split()).replace("`", "\\`")


def wrap(paragraphs: list[str]) -> list[str]:
    """Fill each paragraph to the docstring width, breaking only at spaces and newlines.

    Every other character, tabs and control characters included, is kept for
    `docstring_text` to escape, so the docstring reads back as the text with its runs of
    spaces and newlines folded.
    """
    lines: list[str] = []
    for paragraph in (p for text in paragraphs for p in re.split(r"\n *\n", text)):
        line = ""
        for word in filter(None, re.split(r"[ \n]+", paragraph)):
            if line and len(line) + 1 + len(word) > LINE_LENGTH - 4:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        if line:
            lines.extend([line, ""])
    return lines[:-1]
