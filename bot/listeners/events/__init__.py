"""Events: the App Home tab."""
