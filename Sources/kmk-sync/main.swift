print("kmk-sync")
