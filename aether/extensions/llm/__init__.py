"""Provider adapters (one module each) and the provider registry, factory and builder."""
