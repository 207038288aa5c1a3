raise RuntimeError("this sample plugin is broken on purpose")
