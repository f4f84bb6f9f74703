"""Pages a person sees: login, registration, personal cabinet."""
