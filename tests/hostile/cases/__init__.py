"""Hostile cases, one module per family; each registers its cases with `@case(...)`.

Article ids: each module takes its own block so cases never collide —
redirects 4200000-4200099, bodies 4200100-4200199, limits 4200200-4200299,
politeness 4200300-4200399, misc 4200400-4200499.
"""
