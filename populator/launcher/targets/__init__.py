"""populator/launcher/targets"""
