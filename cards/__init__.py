"""The member card: card numbers, the card face and the dynamic member code."""
