"""Readers: what a network is, read back into spec data for `resnetgen import`.

`tree` reads a live module tree (timm's and torchvision's models); `differences` holds
the generated model to the model read, module by module.
"""
