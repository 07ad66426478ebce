def test_moto_server_is_real_http(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a/b", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="a/b")["Body"].read() == b"x"
