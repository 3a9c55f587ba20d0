"""InterCode environments (Yang et al., 2023): Bash, SQL and CTF tasks as gymnasium environments."""
