"""populator/core"""
