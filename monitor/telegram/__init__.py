"""Everything that talks to Telegram. The only package that imports telethon."""
