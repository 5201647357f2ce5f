"""Plug-in implementations: provider adapters, reference tools, session stores."""
