"""gradcam-widget: see where a convolutional image classifier looks."""
