"""Wire and print formats of a certificate: the DIVOC QR payload, QR images, the PDF."""
