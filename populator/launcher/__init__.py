"""populator/launcher"""
