"""The terminal annotation screen (Textual). Entry point: `annotator.tui.app.run_app`."""

import os

# Textual paints on a frame timer (60 Hz by default), so a keypress waits up to a whole
# frame before it shows. 120 Hz halves that wait; an idle screen paints nothing either
# way. Must be set before textual is first imported; a user's TEXTUAL_FPS wins.
os.environ.setdefault("TEXTUAL_FPS", "120")
