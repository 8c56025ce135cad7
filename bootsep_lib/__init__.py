"""bootsep: bootstrapped single-channel separation from spatial clustering (Seetharaman et al.,
ICASSP 2019) and manifold-aware deep clustering (Tanaka et al., Interspeech 2021).

Data flows one way through the modules::

    data -> spatial -> targets -> losses, models -> engine -> separate -> eval -> studies
         -> report -> plots

Import the module you need (``from bootsep_lib import spatial``); nothing heavy is imported here.
"""

__version__ = "0.1.0"
