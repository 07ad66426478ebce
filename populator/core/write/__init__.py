"""populator/core/write"""
