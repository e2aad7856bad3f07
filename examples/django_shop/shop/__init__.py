"""A tiny Django shop that shows StoreX recommendations on its product pages."""
