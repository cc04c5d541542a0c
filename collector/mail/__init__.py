"""Email: campaigns, suppressions, bounces and complaints."""
