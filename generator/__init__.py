"""resnetgen: ResNet-family networks from YAML specs to standalone PyTorch files."""

__version__ = "0.1.0"
