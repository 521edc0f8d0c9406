"""``--cfg-options key=value ...`` parsing for the command-line tools."""
import argparse
import ast

BRACKETS = {'[': ']', '(': ')'}


def parse_value(text):
    """Turn an option value into a Python value.

    Python literals are parsed as Python (``1``, ``0.5``, ``True``, ``None``, ``[1,2]``, ``(1,2)``, ``'x'``);
    ``true``/``false``/``none`` are accepted too. Lists and tuples may hold bare words, as in mmengine's
    ``DictAction``: ``[mIoU,mDice]``, ``(a,b)``, a bracket-less ``a,b`` (a list) and nestings such as
    ``[(a,b),(c,d)]``. Anything else stays a string.
    """
    text = text.strip()
    lowered = text.lower()
    if lowered in ('true', 'false'):
        return lowered == 'true'
    if lowered in ('none', 'null'):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if isinstance(value, tuple) and not text.startswith('('):
        return list(value)  # a bare 1,2 is a list, like a bare a,b
    if value is not text:
        return value
    if text[:1] in BRACKETS and text.endswith(BRACKETS[text[0]]):
        items = [parse_value(part) for part in _split_top_level(text[1:-1]) if part.strip()]
        return items if text[0] == '[' else tuple(items)
    if ',' in text and not text.startswith(('{', '"', "'")):
        return [parse_value(part) for part in _split_top_level(text) if part.strip()]
    return text


def _split_top_level(text):
    """``text`` split at the commas outside brackets: ``'a,[b,c]'`` -> ``['a', '[b,c]']``."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in '[(':
            depth += 1
        elif char in '])':
            depth -= 1
        elif char == ',' and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


class DictAction(argparse.Action):
    """argparse action collecting ``KEY=VALUE`` pairs into a dict of typed values."""

    def __call__(self, parser, namespace, values, option_string=None):
        options = dict(getattr(namespace, self.dest, None) or {})
        for item in values:
            key, sep, value = item.partition('=')
            if not sep or not key:
                parser.error(f'{option_string} expects KEY=VALUE pairs, got {item!r}')
            options[key] = parse_value(value)
        setattr(namespace, self.dest, options)
