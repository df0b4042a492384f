"""The sandbox that renders staff's email overrides (billing_portal/common/email_overrides.py).

An override is template text typed in the admin, so it must reach nothing but the variables
its email offers: it is compiled by an `Engine` of its own with no loaders (so `{% include %}`
and `{% extends %}` find nothing) whose only tags and filters are the ones listed here. Django
adds its default libraries to every engine, so they are replaced after construction: a tag
that is not listed (`{% load %}`, `{% ssi %}`, `{% debug %}`, `{% url %}`, `{% csrf_token %}`)
does not compile, and neither does a filter such as `safe` that would switch off escaping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.template import (
    Context,
    Engine,
    Library,
    Node,
    NodeList,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, Template, Variable, VariableNode
from django.template.defaulttags import ForNode, IfNode, WithNode

# Named in the refusal, so staff learn why rather than just "invalid block tag".
REFUSED_TAGS = (
    "load",
    "include",
    "extends",
    "ssi",
    "debug",
    "url",
    "static",
    "csrf_token",
    "autoescape",
    "templatetag",
)

SAFE_TAGS = ("if", "for", "with", "comment", "firstof", "spaceless", "cycle", "now")
SAFE_FILTERS = (
    "capfirst",
    "center",
    "cut",
    "date",
    "default",
    "default_if_none",
    "escape",
    "first",
    "floatformat",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "ljust",
    "lower",
    "pluralize",
    "rjust",
    "slugify",
    "striptags",
    "time",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "wordcount",
    "wordwrap",
    "yesno",
)


class SandboxError(ValueError):
    """The override text is refused; the message says why (shown on the admin form)."""


def _safe_library() -> Library:
    library = Library()
    for name in SAFE_TAGS:
        library.tags[name] = defaulttags.register.tags[name]
    for name in SAFE_FILTERS:
        library.filters[name] = defaultfilters.register.filters[name]
    return library


def _engine(*, autoescape: bool) -> Engine:
    engine = Engine(dirs=[], app_dirs=False, loaders=[], autoescape=autoescape, debug=False)
    engine.template_builtins = [_safe_library()]  # replaces Django's default libraries
    engine.template_libraries = {}  # nothing for {% load %} to find, even if it compiled
    return engine


HTML_ENGINE = _engine(autoescape=True)
TEXT_ENGINE = _engine(autoescape=False)


def sandbox_compile(source: str, *, html: bool, allowed: Iterable[str]) -> Template:
    """Compile override text, refusing tags outside the sandbox and unknown variables."""
    _refuse_named_tags(source)
    try:
        template = (HTML_ENGINE if html else TEXT_ENGINE).from_string(source)
    except TemplateSyntaxError as error:
        raise SandboxError(f"The template does not compile in the sandbox: {error}") from error
    unknown = sorted(set(_variables(template.nodelist, frozenset())) - set(allowed))
    if unknown:
        raise SandboxError("Unknown variables (not offered by this email): " + ", ".join(unknown))
    return template


def sandbox_render(template: Template, context: dict[str, Any]) -> str:
    return template.render(Context(context, autoescape=template.engine.autoescape))


def template_variables(template: Template) -> set[str]:
    """The top-level variable names a compiled template reads (for the registry's test)."""
    return set(_variables(template.nodelist, frozenset()))


def _refuse_named_tags(source: str) -> None:
    for match in re.finditer(r"{%-?\s*(\w+)", source):
        if match.group(1) in REFUSED_TAGS:
            raise SandboxError(f"The tag {{% {match.group(1)} %}} is not allowed in an email.")


def _variables(nodelist: NodeList | Iterable[Node], local: frozenset[str]) -> Iterator[str]:
    """Top-level names the nodes read, minus the ones a `for` or `with` defines."""
    for node in nodelist:
        yield from _node_variables(node, local)


def _node_variables(node: Node, local: frozenset[str]) -> Iterator[str]:
    if isinstance(node, VariableNode):
        yield from _expression_names(node.filter_expression, local)
        return
    if isinstance(node, IfNode):
        for condition, nodelist in node.conditions_nodelists:
            if condition is not None:
                yield from _condition_names(condition, local)
            yield from _variables(nodelist, local)
        return
    if isinstance(node, ForNode):
        loop: Any = node  # the stubs type its parts loosely (str | FilterExpression)
        yield from _expression_names(loop.sequence, local)
        inner = local | set(loop.loopvars) | {"forloop"}
        yield from _variables(loop.nodelist_loop, frozenset(inner))
        yield from _variables(loop.nodelist_empty, local)
        return
    if isinstance(node, WithNode):
        for expression in node.extra_context.values():
            yield from _expression_names(expression, local)
        yield from _variables(node.nodelist, local | set(node.extra_context))
        return
    for expression in _expressions_of(node):
        yield from _expression_names(expression, local)
    for attribute in node.child_nodelists:
        yield from _variables(getattr(node, attribute, None) or [], local)


def _expressions_of(node: Node) -> Iterator[FilterExpression]:
    # firstof / cycle keep their arguments as a list of FilterExpressions.
    for value in vars(node).values():
        if isinstance(value, FilterExpression):
            yield value
        elif isinstance(value, list | tuple):
            yield from (item for item in value if isinstance(item, FilterExpression))


def _condition_names(condition: Any, local: frozenset[str]) -> Iterator[str]:
    # The `if` parser's operators hold `first`/`second`; its literals hold `value`.
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield from _expression_names(value, local)
    for side in ("first", "second"):
        part = getattr(condition, side, None)
        if part is not None:
            yield from _condition_names(part, local)


def _expression_names(expression: FilterExpression, local: frozenset[str]) -> Iterator[str]:
    yield from _variable_name(expression.var, local)
    for _function, arguments in expression.filters:
        for is_variable, argument in arguments:
            if is_variable:
                yield from _variable_name(argument, local)


def _variable_name(variable: Any, local: frozenset[str]) -> Iterator[str]:
    name = variable.lookups[0] if isinstance(variable, Variable) and variable.lookups else None
    if name is not None and name not in local:
        yield name
