"""Export of trained generators: SavedModel, TFLite, colourising files."""
