"""The zoo's recipes, one module a model family: how each shipped model is built, trained and measured.

Each module here defines ``RECIPES: dict[str, Recipe]``; ``attnmem.zoo.RECIPES`` maps every zoo name to the
module that holds its recipe. Recipes import the training code (``attnmem.training``), which imports the models;
nothing upstream imports the zoo.
"""
