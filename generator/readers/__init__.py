"""Readers: what a network is, read back into spec data for `resnetgen import`.

Two sources, one result. `tree` reads a live module tree (timm's and torchvision's
models) and `differences` holds the generated model to it, module by module; `files`
opens a checkpoint safely, `containers` finds the weights in it, and `state` reads
their names and shapes. Both readers share `common` (the settings a reading fixes) and
`network` (blocks into the stage fields).
"""
