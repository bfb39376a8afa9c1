"""The ground every domain stands on: configuration, layout constants, errors, units, projects and
range folders, file classification and walking, atomic and durable writes, positional I/O,
checksums. Imports nothing above it.
"""
