"""LatentLab: see and steer what a generative autoencoder has learned."""

__version__ = "0.1.0"
