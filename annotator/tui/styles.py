"""Rich styles of a widget and its component classes, kept until the CSS changes.

Textual drops its own cache of these on every `refresh()`, and working one out walks
the widget's ancestors: a few tenths of a millisecond each, several times a keypress.
"""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


class CachedStyles(Widget):
    """Mix into a widget: `style_of("name")` for a component class (partial, as drawn
    over the base), `base_style()` for the widget's own style. List it after the
    widget's own base (`class V(ScrollView, CachedStyles)`): Textual collects
    DEFAULT_CSS along the first base only."""

    _style_cache: dict[str | None, Style] | None = None

    def style_of(self, name: str) -> Style:
        cache = self._style_cache
        if cache is None:
            cache = self._style_cache = {}
        style = cache.get(name)
        if style is None:
            style = cache[name] = self.get_component_rich_style(name, partial=True)
        return style

    def base_style(self) -> Style:
        cache = self._style_cache
        if cache is None:
            cache = self._style_cache = {}
        style = cache.get(None)
        if style is None:
            style = cache[None] = self.rich_style
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()  # a class, theme or stylesheet change
        self._style_cache = None
