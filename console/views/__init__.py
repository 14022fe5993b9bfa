"""The console's pages, one module per area of work; each module owns a `pages` table.

`console.app` mounts every module of this package, so adding an area is adding a module.
"""
