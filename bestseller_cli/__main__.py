from bestseller_cli.cli import main

main()
