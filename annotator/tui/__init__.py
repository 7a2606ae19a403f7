"""The terminal annotation screen (Textual). Entry point: `annotator.tui.app.run_app`."""
