"""`python -m bot`: the `slabot` command. The CLI is imported only when run as the program: a
process that multiprocessing spawns imports this module again, and needs none of it."""

if __name__ == "__main__":
    from bot.cli import main

    main()
