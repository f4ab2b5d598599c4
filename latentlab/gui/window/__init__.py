"""The window shell: builds the widgets, menus and docks, and emits typed requests."""
