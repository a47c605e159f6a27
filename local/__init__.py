"""The local AWS stack: emulators and the project's stand-ins, run on 127.0.0.1.

Use it through the CLI: ``python -m local start|stop|status|reset|env|setup``.
"""
