"""Operations: what a command does, given configuration; they call backends and renderers."""
