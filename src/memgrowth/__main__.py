from memgrowth.cli import main

main()
