from vam.cli import main

main()
