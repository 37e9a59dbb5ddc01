"""Live widgets for the course notebooks (they import ipywidgets; ``import fork110`` does not).

* :class:`TreeView`: a live picture of a contained run's process tree (or of any pid).
* :class:`DemoPanel`: one slide demo with its code, Run / Run fixed / Run C / Kill, the live tree,
  the output as it streams and the explanation.
* :class:`BeTheParent`: you are the parent process: fork, let a child exit, waitpid, kill a zombie.
* :class:`CommandPlayground`: build a :class:`fork110.Command` with fields, see it in Python and
  Rust, run it contained.

>>> from fork110.widgets import DemoPanel
>>> panel = DemoPanel("say_hello")
>>> panel.run().wait(20).facts["hello"] > 0
True
>>> panel.close()
"""

from ._command import CommandPlayground
from ._demo import DemoPanel
from ._parent import BeTheParent
from ._tree import TreeView

__all__ = ["BeTheParent", "CommandPlayground", "DemoPanel", "TreeView"]
