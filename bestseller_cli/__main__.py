from bestseller_cli.cli.app import main

main()
