"""The middleware cookbook: recipes written against Aether's public API only.

Each module is one recipe that you can import from here (``from middleware.pii_redaction
import PIIRedactionMiddleware``) or copy into your own project. ``middleware/README.md``
says what each one does and where it belongs in a stack; ``docs/middleware.md`` explains
how to write your own.
"""
