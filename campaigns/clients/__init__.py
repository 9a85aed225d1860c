"""Plain HTTP clients for the campaign builder's outside services: data in, data out, no models."""
