"""CSV files as the import and export routes take and give them."""
import io

HEADER = "name,sku,category,stock,low_stock_threshold,active\r\n"


def upload(shop, text, name="products.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return shop.post("/api/products/import", data={"file": (io.BytesIO(data), name)},
                     content_type="multipart/form-data")
