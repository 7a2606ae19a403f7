"""Rich styles of a widget and its component classes, kept until the CSS changes.

Textual drops its own cache of these on every `refresh()`, and working one out walks
the widget's ancestors: a few tenths of a millisecond each, several times a keypress.
"""

from __future__ import annotations

from rich.style import Style
from textual import events
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


class StyledOnce:
    """Mix into a screen, before `Screen`: its first resume keeps the styles it was
    mounted with. Textual restyles every node of a screen on each resume, and the
    first resume comes right after mount, when they were just applied: on a full
    screen that restyle is the largest single cost of the first frame. Later
    resumes (back from a dialog, after a theme change) still restyle."""

    _styled_once = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Textual calls this handler of every class in the MRO, subclass first: no
        # super() call, Screen's own handler runs next and reads the flag.
        if not self._styled_once:
            self._styled_once = True
            event.refresh_styles = False
