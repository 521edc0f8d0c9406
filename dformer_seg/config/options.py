"""``--cfg-options key=value ...`` parsing for the command-line tools."""
import argparse
import ast


def parse_value(text):
    """Turn an option value into a Python value.

    Literals are parsed as Python (``1``, ``0.5``, ``True``, ``None``, ``[1,2]``,
    ``(1,2)``, ``'x'``); ``true``/``false``/``none`` are accepted too; a bare
    ``a,b`` becomes a list; anything else stays a string.
    """
    lowered = text.strip().lower()
    if lowered in ('true', 'false'):
        return lowered == 'true'
    if lowered in ('none', 'null'):
        return None
    if ',' in text and not text.strip().startswith(('[', '(', '{', '"', "'")):
        return [parse_value(part) for part in text.split(',') if part != '']
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


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
